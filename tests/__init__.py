import pytest

# The modules of shared test code that assert: pytest rewrites their asserts (for its detailed
# failure messages, as in the test modules) only when told of them before they are imported.
pytest.register_assert_rewrite(
    "tests.api_calls", "tests.devstack.launcher", "tests.integration.flow", "tests.smtpserver"
)
