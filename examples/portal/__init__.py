"""The reference portal: a small FastAPI app that calls twostep over HTTP, as a customer would."""
