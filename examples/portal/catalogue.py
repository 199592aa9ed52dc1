"""Every string the portal shows, in English, French and Spanish."""

from __future__ import annotations

# Placeholders are str.format fields. A key ending in "_one" is the singular of the same key.
EN: dict[str, str] = {
    "portal": "Example portal",
    "language": "Language",
    "sign_out": "Sign out",
    "cancel": "Cancel",
    # sign-in
    "signin_title": "Sign in",
    "email": "Email",
    "password": "Password",
    "sign_in": "Sign in",
    "bad_password": "Wrong email or password.",
    "signed_out": "You are signed out.",
    "account_locked": "Too many failed attempts. Try again in {minutes} min.",
    "send_limit": "We cannot send more codes for now. Try again in {minutes} min.",
    "mail_delayed": "We cannot send your code right now. Try again in {minutes} min.",
    # the second step
    "two_step_title": "Two-step verification",
    "sent_code": "We sent a 6-digit code to {address}. It expires in {n} minutes.",
    "sent_code_one": "We sent a 6-digit code to {address}. It expires in {n} minute.",
    "totp_prompt": "Enter the 6-digit code your authenticator app shows.",
    "recovery_prompt": "Enter one of the recovery codes you saved.",
    "code": "Code",
    "recovery_code": "Recovery code",
    "remember_browser": "Don't ask again on this browser",
    "login": "Sign in",
    "no_email": "Didn't get the email?",
    "resend": "Send a new code",
    "resend_wait": "You can ask for a new one in {seconds} s.",
    "use_totp": "Use your authenticator app",
    "use_recovery": "Use a recovery code",
    "use_email": "Use the code we emailed",
    "email_instead": "Email me a code instead",
    "email_refused": (
        "We cannot email you a code for now (try again in {minutes} min). "
        "Use your authenticator app or a recovery code."
    ),
    "email_delayed": (
        "Email is unavailable right now, so we did not send you a code (try again in "
        "{minutes} min). Use another way to verify."
    ),
    "email_slow": "Emails are slow right now: your code may take about {minutes} min to arrive.",
    "wrong_code": "Wrong code. {n} tries left.",
    "wrong_code_one": "Wrong code. {n} try left.",
    "code_used": "This code was already used. Wait for the next one. {n} tries left.",
    "code_used_one": "This code was already used. Wait for the next one. {n} try left.",
    "recovery_used": "This recovery code was already used. Use another one. {n} tries left.",
    "recovery_used_one": "This recovery code was already used. Use another one. {n} try left.",
    "too_many_attempts": "Too many wrong codes. Sign in again.",
    "code_expired": "This code has expired. Sign in again.",
    "code_missing": "Enter the code.",
    "code_format": "A code has 6 digits. Check it and try again.",
    "recovery_format": "That is not a recovery code. Check it and try again.",
    "resent": "New code sent. The previous one no longer works.",
    "resend_too_soon": "Wait {seconds} s before asking for a new code.",
    "method_unavailable": "This way of verifying is not set up for your account.",
    # home
    "home_title": "Welcome",
    "signed_in_as": "Signed in as {name} ({email})",
    "settings_link": "Account settings",
    # settings, Security tab
    "settings_title": "Account settings",
    "security_tab": "Security",
    "back_home": "Back to the home page",
    "two_step_help": "When it is on, signing in also asks for a 6-digit code sent to {email}.",
    "enabled": "Enable two-step verification",
    "apply_warning": "Nothing changes until you click Apply.",
    "apply": "Apply",
    "now_on": "Two-step verification is now on.",
    "now_off": "Two-step verification is now off. Your trusted browsers were forgotten.",
    "unchanged": "Nothing changed.",
    "totp_title": "Authenticator app",
    "totp_help": "Get your codes from an app on your phone instead of by email.",
    "totp_on": "An authenticator app is set up.",
    "totp_start": "Set up an authenticator app",
    "totp_restart": "Start again",
    "totp_scan": "Scan this QR code with your app, or type the key. Then enter the code it shows.",
    "totp_secret": "Key",
    "totp_confirm": "Confirm",
    "totp_remove": "Remove",
    "totp_confirmed": "Your authenticator app is set up.",
    "totp_removed": "The authenticator app was removed.",
    "totp_wrong": "That code is not right. Enter the code the app shows now.",
    "totp_expired": "The set-up has expired. Start again.",
    "browsers_title": "Trusted browsers",
    "browsers_help": "These browsers do not ask for a code when you sign in.",
    "browsers_none": "No trusted browsers.",
    "browser": "Browser",
    "ip": "IP address",
    "last_used": "Last used",
    "revoke": "Revoke",
    "revoke_all": "Revoke all",
    "revoked": "The browser was revoked. It will ask for a code at the next sign-in.",
    "revoked_all": "Every trusted browser was revoked.",
    "browser_gone": "That browser had already been removed.",
    "recovery_title": "Recovery codes",
    "recovery_help": "For when you can get neither the email nor your app. Each code works once.",
    "recovery_left": "You have {n} recovery codes left.",
    "recovery_left_one": "You have {n} recovery code left.",
    "recovery_new": "Make a new set",
    "recovery_shown": (
        "Save these codes somewhere safe now: once you leave this page, they are not shown again. "
        "Each works once, and any earlier set no longer works."
    ),
    "too_many_tries": "Too many tries. Try again in {minutes} min.",
    "signin_wait_seconds": "Too many sign-in attempts. Try again in {seconds} s.",
    "signin_wait_minutes": "Too many sign-in attempts. Try again in {minutes} min.",
    "recovery_download": "Download (.txt)",
    "recovery_print": "Print",
    "recovery_done": "I have saved them",
    "recovery_saved": "Your new recovery codes are set. Keep them somewhere safe.",
    "recovery_file_title": "Recovery codes for {email}. Each works once.",
    # error pages
    "unavailable_title": "Service unavailable",
    "unavailable_body": "Two-step service unavailable, try again in a moment.",
    "csrf_title": "Form expired",
    "csrf_body": "This form is out of date. Go back, reload the page and try again.",
    "not_found_title": "Page not found",
    "not_found_body": "There is nothing at this address.",
    # confirmations and re-authentication; the trusted browsers' table
    "confirm_off_title": "Turn off two-step verification?",
    "confirm_off_body": (
        "Signing in will ask only for your password, and every browser you trusted is "
        "forgotten. Anyone who learns your password can then get in."
    ),
    "confirm_off_button": "Turn off",
    "confirm_remove_app_title": "Remove the authenticator app?",
    "confirm_remove_app_body": (
        "Codes from the app stop working at once. Signing in will email you a code instead."
    ),
    "confirm_remove_app_button": "Remove the app",
    "confirm_recovery_title": "Make a new set of recovery codes?",
    "confirm_recovery_body": (
        "You get ten new codes, shown once. Any recovery codes you have now stop working."
    ),
    "confirm_recovery_button": "Make a new set",
    "confirm_revoke_all_title": "Revoke every trusted browser?",
    "confirm_revoke_all_body": (
        "Every browser, this one included, will ask for a code at its next sign-in."
    ),
    "confirm_revoke_all_button": "Revoke all",
    "reauth_password": "To continue, enter your password again",
    "wrong_password": "Wrong password.",
    "expires": "Expires",
    "this_browser": "This browser",
    "browser_on_system": "{browser} on {system}",
    "unknown_browser": "Unknown browser",
    "a_browser": "Browser",
    "recovery_none": "You have no recovery codes.",
    "recovery_first": "Make recovery codes",
    # the password page
    "password_title": "Change your password",
    "current_password": "Current password",
    "new_password": "New password",
    "new_password_again": "New password, again",
    "password_hint": "At least {n} characters. A few unrelated words make a strong one.",
    "password_save": "Change password",
    "password_changed": "Your password was changed. Every other session was signed out.",
    "password_length": "The new password needs at least {n} characters.",
    "password_mismatch": "The two new passwords differ.",
    "password_too_long": "The new password can have at most {n} characters.",
    "password_same": "The new password is the one you have now.",
    # security keys and passkeys: the Security tab, their confirmations, the two-step page
    "keys_title": "Security keys and passkeys",
    "keys_help": (
        "Sign in with a security key, or with the fingerprint, face or screen lock of your "
        "phone or computer, instead of a code."
    ),
    "keys_none": "No security keys or passkeys yet.",
    "keys_two_step_off": "Turn on two-step verification above to sign in with your keys.",
    "key_name": "Name",
    "key_added_on": "Added",
    "key_never_used": "Not used yet",
    "key_synced": "Synced passkey",
    "key_rename": "Rename",
    "key_remove": "Remove",
    "key_first_on": "Signing in asks for your security key or passkey first.",
    "key_first_off": (
        "Signing in asks for a code first; your security key or passkey is one click away."
    ),
    "key_first_set": "Ask for my key first",
    "key_first_unset": "Ask for a code first",
    "key_first_now_on": "Signing in will ask for your security key or passkey first.",
    "key_first_now_off": "Signing in will ask for a code first.",
    "key_name_label": "Name of the new key",
    "key_name_hint": "To tell your keys apart, for example “Blue USB key” or “Work laptop”.",
    "key_add": "Add a security key or passkey",
    "key_adding": (
        "Adding “{name}”: follow your browser. Touch your security key, or confirm with your "
        "fingerprint, face or screen lock."
    ),
    "key_retry": "Try again",
    "key_added": "“{name}” was added. You can sign in with it from now on.",
    "key_renamed": "The key is now called “{name}”.",
    "key_removed": "“{name}” was removed. It no longer signs you in.",
    "key_gone": "That security key had already been removed.",
    "key_setup_expired": "Adding the key took too long. Start again.",
    "key_not_added": "This key could not be added. Start again.",
    "key_exists": "This key is already added to your account.",
    "key_limit": (
        "You have the most security keys and passkeys an account can have. "
        "Remove one to add another."
    ),
    "keys_off": "Security keys and passkeys cannot be used right now.",
    "key_unreadable": "Your browser's answer could not be read. Try again.",
    "key_name_missing": "Give the key a name.",
    "key_name_invalid": "A key's name has at most 64 characters, on one line.",
    "key_new_name": "New name",
    "confirm_remove_key_title": "Remove “{name}”?",
    "confirm_remove_key_body": (
        "This security key or passkey stops signing you in at once. You can add it again later."
    ),
    "confirm_remove_key_button": "Remove the key",
    "confirm_rename_key_title": "Rename “{name}”?",
    "confirm_rename_key_body": (
        "The name shows in this list and in the emails we send about the key."
    ),
    "confirm_rename_key_button": "Rename",
    "use_key": "Use your security key or passkey",
    "key_prompt": (
        "When your browser asks, touch your security key, or confirm with your fingerprint, "
        "face or screen lock."
    ),
    "key_choose_another": "Choose another way below.",
    "key_refused": (
        "This key is not one of your account's, or its answer was refused. {n} tries left."
    ),
    "key_refused_one": (
        "This key is not one of your account's, or its answer was refused. {n} try left."
    ),
    "key_not_allowed_get": (
        "The security key did not answer: the request was cancelled or timed out, or this key "
        "is not one of your account's. Try again, or choose another way."
    ),
    "key_not_allowed_create": "Adding the key was cancelled or timed out. Try again.",
    "key_wrong_origin": (
        "Your browser does not allow security keys on this address. Open the portal at its "
        "usual address and try again."
    ),
    "key_unsupported": (
        "This browser cannot use security keys or passkeys. Use another way, or another browser."
    ),
    "key_failed": "The security key could not be used. Try again.",
}

FR: dict[str, str] = {
    "portal": "Portail d'exemple",
    "language": "Langue",
    "sign_out": "Se déconnecter",
    "cancel": "Annuler",
    "signin_title": "Connexion",
    "email": "Adresse e-mail",
    "password": "Mot de passe",
    "sign_in": "Se connecter",
    "bad_password": "Adresse e-mail ou mot de passe incorrect.",
    "signed_out": "Déconnexion effectuée.",
    "account_locked": "Trop de tentatives échouées. Réessayez dans {minutes} min.",
    "send_limit": (
        "Nous ne pouvons plus envoyer de code pour l'instant. Réessayez dans {minutes} min."
    ),
    "mail_delayed": (
        "Nous ne pouvons pas envoyer votre code pour le moment. Réessayez dans {minutes} min."
    ),
    "two_step_title": "Vérification en deux étapes",
    "sent_code": (
        "Nous avons envoyé un code à 6 chiffres à {address}. Il expire dans {n} minutes."
    ),
    "sent_code_one": (
        "Nous avons envoyé un code à 6 chiffres à {address}. Il expire dans {n} minute."
    ),
    "totp_prompt": (
        "Saisissez le code à 6 chiffres affiché par votre application d'authentification."
    ),
    "recovery_prompt": "Saisissez l'un des codes de récupération que vous avez conservés.",
    "code": "Code",
    "recovery_code": "Code de récupération",
    "remember_browser": "Ne plus demander sur ce navigateur",
    "login": "Se connecter",
    "no_email": "Vous n'avez pas reçu l'e-mail ?",
    "resend": "Envoyer un nouveau code",
    "resend_wait": "Vous pourrez en demander un nouveau dans {seconds} s.",
    "use_totp": "Utiliser votre application d'authentification",
    "use_recovery": "Utiliser un code de récupération",
    "use_email": "Utiliser le code reçu par e-mail",
    "email_instead": "M'envoyer plutôt un code par e-mail",
    "email_refused": (
        "Nous ne pouvons pas vous envoyer de code par e-mail pour le moment (réessayez dans "
        "{minutes} min). Utilisez votre application d'authentification ou un code de "
        "récupération."
    ),
    "email_delayed": (
        "L'e-mail est indisponible pour le moment : nous ne vous avons pas envoyé de code "
        "(réessayez dans {minutes} min). Utilisez une autre méthode de vérification."
    ),
    "email_slow": (
        "Les e-mails sont lents en ce moment : votre code peut mettre environ {minutes} min à "
        "arriver."
    ),
    "wrong_code": "Code incorrect. Il vous reste {n} essais.",
    "wrong_code_one": "Code incorrect. Il vous reste {n} essai.",
    "code_used": "Ce code a déjà été utilisé. Attendez le suivant. Il vous reste {n} essais.",
    "code_used_one": "Ce code a déjà été utilisé. Attendez le suivant. Il vous reste {n} essai.",
    "recovery_used": (
        "Ce code de récupération a déjà été utilisé. Utilisez-en un autre. "
        "Il vous reste {n} essais."
    ),
    "recovery_used_one": (
        "Ce code de récupération a déjà été utilisé. Utilisez-en un autre. Il vous reste {n} essai."
    ),
    "too_many_attempts": "Trop de codes incorrects. Reconnectez-vous.",
    "code_expired": "Ce code a expiré. Reconnectez-vous.",
    "code_missing": "Saisissez le code.",
    "code_format": "Un code comporte 6 chiffres. Vérifiez-le et réessayez.",
    "recovery_format": "Ce n'est pas un code de récupération. Vérifiez-le et réessayez.",
    "resent": "Nouveau code envoyé. L'ancien ne fonctionne plus.",
    "resend_too_soon": "Patientez {seconds} s avant de demander un nouveau code.",
    "method_unavailable": "Cette méthode de vérification n'est pas configurée pour votre compte.",
    "home_title": "Bienvenue",
    "signed_in_as": "Connecté en tant que {name} ({email})",
    "settings_link": "Paramètres du compte",
    "settings_title": "Paramètres du compte",
    "security_tab": "Sécurité",
    "back_home": "Retour à l'accueil",
    "two_step_help": (
        "Une fois activée, la connexion demande aussi un code à 6 chiffres envoyé à {email}."
    ),
    "enabled": "Activer la vérification en deux étapes",
    "apply_warning": "Rien ne change tant que vous n'avez pas cliqué sur Appliquer.",
    "apply": "Appliquer",
    "now_on": "La vérification en deux étapes est activée.",
    "now_off": (
        "La vérification en deux étapes est désactivée. Vos navigateurs de confiance ont été "
        "oubliés."
    ),
    "unchanged": "Aucun changement.",
    "totp_title": "Application d'authentification",
    "totp_help": (
        "Recevez vos codes dans une application sur votre téléphone plutôt que par e-mail."
    ),
    "totp_on": "Une application d'authentification est configurée.",
    "totp_start": "Configurer une application d'authentification",
    "totp_restart": "Recommencer",
    "totp_scan": (
        "Scannez ce QR code avec votre application, ou saisissez la clé. "
        "Entrez ensuite le code qu'elle affiche."
    ),
    "totp_secret": "Clé",
    "totp_confirm": "Confirmer",
    "totp_remove": "Supprimer",
    "totp_confirmed": "Votre application d'authentification est configurée.",
    "totp_removed": "L'application d'authentification a été supprimée.",
    "totp_wrong": "Ce code est incorrect. Saisissez celui que l'application affiche maintenant.",
    "totp_expired": "La configuration a expiré. Recommencez.",
    "browsers_title": "Navigateurs de confiance",
    "browsers_help": "Ces navigateurs ne demandent pas de code lorsque vous vous connectez.",
    "browsers_none": "Aucun navigateur de confiance.",
    "browser": "Navigateur",
    "ip": "Adresse IP",
    "last_used": "Dernière utilisation",
    "revoke": "Révoquer",
    "revoke_all": "Tout révoquer",
    "revoked": "Le navigateur a été révoqué. Il demandera un code à la prochaine connexion.",
    "revoked_all": "Tous les navigateurs de confiance ont été révoqués.",
    "browser_gone": "Ce navigateur avait déjà été supprimé.",
    "recovery_title": "Codes de récupération",
    "recovery_help": (
        "Pour le jour où vous n'avez accès ni à l'e-mail ni à votre application. "
        "Chaque code ne sert qu'une fois."
    ),
    "recovery_left": "Il vous reste {n} codes de récupération.",
    "recovery_left_one": "Il vous reste {n} code de récupération.",
    "recovery_new": "Générer de nouveaux codes",
    "recovery_shown": (
        "Conservez ces codes en lieu sûr dès maintenant : une fois cette page quittée, "
        "ils ne seront plus affichés. "
        "Chacun ne sert qu'une fois, et les anciens codes ne fonctionnent plus."
    ),
    "too_many_tries": "Trop de tentatives. Réessayez dans {minutes} min.",
    "signin_wait_seconds": "Trop de tentatives de connexion. Réessayez dans {seconds} s.",
    "signin_wait_minutes": "Trop de tentatives de connexion. Réessayez dans {minutes} min.",
    "recovery_download": "Télécharger (.txt)",
    "recovery_print": "Imprimer",
    "recovery_done": "Je les ai conservés",
    "recovery_saved": "Vos nouveaux codes de récupération sont prêts. Gardez-les en lieu sûr.",
    "recovery_file_title": "Codes de récupération de {email}. Chacun ne sert qu'une fois.",
    "unavailable_title": "Service indisponible",
    "unavailable_body": "Le service de vérification en deux étapes est indisponible, réessayez.",
    "csrf_title": "Formulaire expiré",
    "csrf_body": "Ce formulaire n'est plus valide. Revenez en arrière, rechargez la page et "
    "réessayez.",
    "not_found_title": "Page introuvable",
    "not_found_body": "Il n'y a rien à cette adresse.",
    # confirmations and re-authentication; the trusted browsers' table
    "confirm_off_title": "Désactiver la vérification en deux étapes ?",
    "confirm_off_body": (
        "La connexion ne demandera plus que votre mot de passe, et les navigateurs de "
        "confiance seront oubliés. Quiconque connaît votre mot de passe pourra alors entrer."
    ),
    "confirm_off_button": "Désactiver",
    "confirm_remove_app_title": "Supprimer l'application d'authentification ?",
    "confirm_remove_app_body": (
        "Les codes de l'application cessent aussitôt de fonctionner. À la connexion, vous "
        "recevrez un code par e-mail."
    ),
    "confirm_remove_app_button": "Supprimer l'application",
    "confirm_recovery_title": "Générer de nouveaux codes de récupération ?",
    "confirm_recovery_body": (
        "Vous recevez dix nouveaux codes, affichés une seule fois. Vos codes de récupération "
        "actuels cessent de fonctionner."
    ),
    "confirm_recovery_button": "Générer de nouveaux codes",
    "confirm_revoke_all_title": "Révoquer tous les navigateurs de confiance ?",
    "confirm_revoke_all_body": (
        "Chaque navigateur, celui-ci compris, demandera un code à sa prochaine connexion."
    ),
    "confirm_revoke_all_button": "Tout révoquer",
    "reauth_password": "Pour continuer, saisissez de nouveau votre mot de passe",
    "wrong_password": "Mot de passe incorrect.",
    "expires": "Expire le",
    "this_browser": "Ce navigateur",
    "browser_on_system": "{browser} sur {system}",
    "unknown_browser": "Navigateur inconnu",
    "a_browser": "Navigateur",
    "recovery_none": "Vous n'avez aucun code de récupération.",
    "recovery_first": "Générer des codes de récupération",
    # the password page
    "password_title": "Changer de mot de passe",
    "current_password": "Mot de passe actuel",
    "new_password": "Nouveau mot de passe",
    "new_password_again": "Nouveau mot de passe, à nouveau",
    "password_hint": (
        "Au moins {n} caractères. Quelques mots sans rapport entre eux font un mot de passe solide."
    ),
    "password_save": "Changer le mot de passe",
    "password_changed": (
        "Votre mot de passe a été changé. Toutes les autres sessions ont été fermées."
    ),
    "password_length": "Le nouveau mot de passe doit contenir au moins {n} caractères.",
    "password_mismatch": "Les deux nouveaux mots de passe diffèrent.",
    "password_too_long": "Le nouveau mot de passe peut contenir au plus {n} caractères.",
    "password_same": "Le nouveau mot de passe est celui que vous avez déjà.",
    # security keys and passkeys: the Security tab, their confirmations, the two-step page
    "keys_title": "Clés de sécurité et clés d'accès",
    "keys_help": (
        "Connectez-vous avec une clé de sécurité, ou avec l'empreinte digitale, le visage ou le "
        "verrouillage d'écran de votre téléphone ou de votre ordinateur, plutôt qu'avec un code."
    ),
    "keys_none": "Aucune clé de sécurité ni clé d'accès pour l'instant.",
    "keys_two_step_off": (
        "Activez la vérification en deux étapes ci-dessus pour vous connecter avec vos clés."
    ),
    "key_name": "Nom",
    "key_added_on": "Ajoutée le",
    "key_never_used": "Pas encore utilisée",
    "key_synced": "Clé d'accès synchronisée",
    "key_rename": "Renommer",
    "key_remove": "Supprimer",
    "key_first_on": "La connexion demande d'abord votre clé de sécurité ou clé d'accès.",
    "key_first_off": (
        "La connexion demande d'abord un code ; votre clé de sécurité ou clé d'accès reste à "
        "un clic."
    ),
    "key_first_set": "Demander d'abord ma clé",
    "key_first_unset": "Demander d'abord un code",
    "key_first_now_on": "La connexion demandera d'abord votre clé de sécurité ou clé d'accès.",
    "key_first_now_off": "La connexion demandera d'abord un code.",
    "key_name_label": "Nom de la nouvelle clé",
    "key_name_hint": (
        "Pour distinguer vos clés, par exemple « Clé USB bleue » ou « Ordinateur du bureau »."
    ),
    "key_add": "Ajouter une clé de sécurité ou une clé d'accès",
    "key_adding": (
        "Ajout de « {name} » : suivez les indications de votre navigateur. Touchez votre clé de "
        "sécurité, ou confirmez avec votre empreinte digitale, votre visage ou le verrouillage "
        "d'écran."
    ),
    "key_retry": "Réessayer",
    "key_added": "« {name} » a été ajoutée. Vous pouvez désormais vous connecter avec.",
    "key_renamed": "La clé s'appelle désormais « {name} ».",
    "key_removed": "« {name} » a été supprimée. Elle ne permet plus de vous connecter.",
    "key_gone": "Cette clé de sécurité avait déjà été supprimée.",
    "key_setup_expired": "L'ajout de la clé a pris trop de temps. Recommencez.",
    "key_not_added": "Cette clé n'a pas pu être ajoutée. Recommencez.",
    "key_exists": "Cette clé est déjà ajoutée à votre compte.",
    "key_limit": (
        "Vous avez atteint le nombre maximal de clés de sécurité et de clés d'accès d'un "
        "compte. Supprimez-en une pour en ajouter une autre."
    ),
    "keys_off": (
        "Les clés de sécurité et les clés d'accès ne peuvent pas être utilisées pour le moment."
    ),
    "key_unreadable": "La réponse de votre navigateur n'a pas pu être lue. Réessayez.",
    "key_name_missing": "Donnez un nom à la clé.",
    "key_name_invalid": "Le nom d'une clé comporte au plus 64 caractères, sur une seule ligne.",
    "key_new_name": "Nouveau nom",
    "confirm_remove_key_title": "Supprimer « {name} » ?",
    "confirm_remove_key_body": (
        "Cette clé de sécurité ou clé d'accès ne permet plus de vous connecter, dès maintenant. "
        "Vous pourrez l'ajouter de nouveau plus tard."
    ),
    "confirm_remove_key_button": "Supprimer la clé",
    "confirm_rename_key_title": "Renommer « {name} » ?",
    "confirm_rename_key_body": (
        "Le nom apparaît dans cette liste et dans les e-mails que nous envoyons au sujet de la clé."
    ),
    "confirm_rename_key_button": "Renommer",
    "use_key": "Utiliser votre clé de sécurité ou clé d'accès",
    "key_prompt": (
        "Lorsque votre navigateur le demande, touchez votre clé de sécurité, ou confirmez avec "
        "votre empreinte digitale, votre visage ou le verrouillage d'écran."
    ),
    "key_choose_another": "Choisissez une autre méthode ci-dessous.",
    "key_refused": (
        "Cette clé n'appartient pas à votre compte, ou sa réponse a été refusée. "
        "Il vous reste {n} essais."
    ),
    "key_refused_one": (
        "Cette clé n'appartient pas à votre compte, ou sa réponse a été refusée. "
        "Il vous reste {n} essai."
    ),
    "key_not_allowed_get": (
        "La clé de sécurité n'a pas répondu : la demande a été annulée ou a expiré, ou cette "
        "clé n'appartient pas à votre compte. Réessayez, ou choisissez une autre méthode."
    ),
    "key_not_allowed_create": "L'ajout de la clé a été annulé ou a expiré. Réessayez.",
    "key_wrong_origin": (
        "Votre navigateur n'autorise pas les clés de sécurité à cette adresse. Ouvrez le "
        "portail à son adresse habituelle et réessayez."
    ),
    "key_unsupported": (
        "Ce navigateur ne permet pas d'utiliser les clés de sécurité ni les clés d'accès. "
        "Utilisez une autre méthode ou un autre navigateur."
    ),
    "key_failed": "La clé de sécurité n'a pas pu être utilisée. Réessayez.",
}

ES: dict[str, str] = {
    "portal": "Portal de ejemplo",
    "language": "Idioma",
    "sign_out": "Cerrar sesión",
    "cancel": "Cancelar",
    "signin_title": "Iniciar sesión",
    "email": "Correo electrónico",
    "password": "Contraseña",
    "sign_in": "Iniciar sesión",
    "bad_password": "Correo electrónico o contraseña incorrectos.",
    "signed_out": "Ha cerrado la sesión.",
    "account_locked": "Demasiados intentos fallidos. Inténtelo de nuevo en {minutes} min.",
    "send_limit": "Ahora no podemos enviar más códigos. Inténtelo de nuevo en {minutes} min.",
    "mail_delayed": "Ahora no podemos enviarle el código. Inténtelo de nuevo en {minutes} min.",
    "two_step_title": "Verificación en dos pasos",
    "sent_code": "Enviamos un código de 6 dígitos a {address}. Caduca en {n} minutos.",
    "sent_code_one": "Enviamos un código de 6 dígitos a {address}. Caduca en {n} minuto.",
    "totp_prompt": "Introduzca el código de 6 dígitos que muestra su aplicación de autenticación.",
    "recovery_prompt": "Introduzca uno de los códigos de recuperación que guardó.",
    "code": "Código",
    "recovery_code": "Código de recuperación",
    "remember_browser": "No volver a preguntar en este navegador",
    "login": "Iniciar sesión",
    "no_email": "¿No recibió el correo?",
    "resend": "Enviar un código nuevo",
    "resend_wait": "Podrá pedir otro dentro de {seconds} s.",
    "use_totp": "Usar su aplicación de autenticación",
    "use_recovery": "Usar un código de recuperación",
    "use_email": "Usar el código que le enviamos por correo",
    "email_instead": "Enviarme un código por correo",
    "email_refused": (
        "Ahora no podemos enviarle un código por correo (vuelva a intentarlo en {minutes} "
        "min). Use su aplicación de autenticación o un código de recuperación."
    ),
    "email_delayed": (
        "El correo no está disponible en este momento, así que no le enviamos ningún código "
        "(vuelva a intentarlo en {minutes} min). Use otro método de verificación."
    ),
    "email_slow": (
        "El correo va lento en este momento: su código puede tardar unos {minutes} min en llegar."
    ),
    "wrong_code": "Código incorrecto. Le quedan {n} intentos.",
    "wrong_code_one": "Código incorrecto. Le queda {n} intento.",
    "code_used": "Este código ya se ha usado. Espere al siguiente. Le quedan {n} intentos.",
    "code_used_one": "Este código ya se ha usado. Espere al siguiente. Le queda {n} intento.",
    "recovery_used": (
        "Este código de recuperación ya se ha usado. Use otro. Le quedan {n} intentos."
    ),
    "recovery_used_one": (
        "Este código de recuperación ya se ha usado. Use otro. Le queda {n} intento."
    ),
    "too_many_attempts": "Demasiados códigos incorrectos. Vuelva a iniciar sesión.",
    "code_expired": "Este código ha caducado. Vuelva a iniciar sesión.",
    "code_missing": "Introduzca el código.",
    "code_format": "Un código tiene 6 dígitos. Revíselo e inténtelo de nuevo.",
    "recovery_format": "Eso no es un código de recuperación. Revíselo e inténtelo de nuevo.",
    "resent": "Código nuevo enviado. El anterior ya no funciona.",
    "resend_too_soon": "Espere {seconds} s antes de pedir un código nuevo.",
    "method_unavailable": "Este método de verificación no está configurado en su cuenta.",
    "home_title": "Inicio",
    "signed_in_as": "Sesión iniciada como {name} ({email})",
    "settings_link": "Configuración de la cuenta",
    "settings_title": "Configuración de la cuenta",
    "security_tab": "Seguridad",
    "back_home": "Volver a la página de inicio",
    "two_step_help": (
        "Cuando está activada, al iniciar sesión también se pide un código de 6 dígitos "
        "enviado a {email}."
    ),
    "enabled": "Activar la verificación en dos pasos",
    "apply_warning": "No cambia nada hasta que pulse Aplicar.",
    "apply": "Aplicar",
    "now_on": "La verificación en dos pasos está activada.",
    "now_off": (
        "La verificación en dos pasos está desactivada. Se olvidaron sus navegadores de confianza."
    ),
    "unchanged": "No ha cambiado nada.",
    "totp_title": "Aplicación de autenticación",
    "totp_help": "Reciba sus códigos en una aplicación del teléfono en lugar de por correo.",
    "totp_on": "Tiene configurada una aplicación de autenticación.",
    "totp_start": "Configurar una aplicación de autenticación",
    "totp_restart": "Empezar de nuevo",
    "totp_scan": (
        "Escanee este código QR con su aplicación o escriba la clave. "
        "Después introduzca el código que muestre."
    ),
    "totp_secret": "Clave",
    "totp_confirm": "Confirmar",
    "totp_remove": "Quitar",
    "totp_confirmed": "Su aplicación de autenticación está configurada.",
    "totp_removed": "Se quitó la aplicación de autenticación.",
    "totp_wrong": "Ese código no es correcto. Introduzca el que muestra ahora la aplicación.",
    "totp_expired": "La configuración ha caducado. Empiece de nuevo.",
    "browsers_title": "Navegadores de confianza",
    "browsers_help": "Estos navegadores no piden código al iniciar sesión.",
    "browsers_none": "No hay navegadores de confianza.",
    "browser": "Navegador",
    "ip": "Dirección IP",
    "last_used": "Último uso",
    "revoke": "Revocar",
    "revoke_all": "Revocar todos",
    "revoked": "Se revocó el navegador. Pedirá un código la próxima vez que inicie sesión.",
    "revoked_all": "Se revocaron todos los navegadores de confianza.",
    "browser_gone": "Ese navegador ya se había quitado.",
    "recovery_title": "Códigos de recuperación",
    "recovery_help": (
        "Para cuando no tenga acceso ni al correo ni a su aplicación. Cada código sirve una vez."
    ),
    "recovery_left": "Le quedan {n} códigos de recuperación.",
    "recovery_left_one": "Le queda {n} código de recuperación.",
    "recovery_new": "Generar códigos nuevos",
    "recovery_shown": (
        "Guarde estos códigos en un lugar seguro ahora: cuando salga de esta página, "
        "no se volverán a mostrar. "
        "Cada uno sirve una vez y los anteriores ya no funcionan."
    ),
    "too_many_tries": "Demasiados intentos. Inténtelo de nuevo en {minutes} min.",
    "signin_wait_seconds": (
        "Demasiados intentos de inicio de sesión. Inténtelo de nuevo en {seconds} s."
    ),
    "signin_wait_minutes": (
        "Demasiados intentos de inicio de sesión. Inténtelo de nuevo en {minutes} min."
    ),
    "recovery_download": "Descargar (.txt)",
    "recovery_print": "Imprimir",
    "recovery_done": "Ya los he guardado",
    "recovery_saved": (
        "Sus nuevos códigos de recuperación están listos. Guárdelos en un lugar seguro."
    ),
    "recovery_file_title": "Códigos de recuperación de {email}. Cada uno sirve una vez.",
    "unavailable_title": "Servicio no disponible",
    "unavailable_body": "El servicio de verificación en dos pasos no está disponible; "
    "inténtelo de nuevo.",
    "csrf_title": "Formulario caducado",
    "csrf_body": "Este formulario ya no es válido. Vuelva atrás, recargue la página e "
    "inténtelo de nuevo.",
    "not_found_title": "Página no encontrada",
    "not_found_body": "No hay nada en esta dirección.",
    # confirmations and re-authentication; the trusted browsers' table
    "confirm_off_title": "¿Desactivar la verificación en dos pasos?",
    "confirm_off_body": (
        "Para iniciar sesión solo se pedirá su contraseña, y se olvidarán los navegadores de "
        "confianza. Cualquiera que conozca su contraseña podrá entrar."
    ),
    "confirm_off_button": "Desactivar",
    "confirm_remove_app_title": "¿Quitar la aplicación de autenticación?",
    "confirm_remove_app_body": (
        "Los códigos de la aplicación dejan de funcionar al momento. Al iniciar sesión "
        "recibirá un código por correo."
    ),
    "confirm_remove_app_button": "Quitar la aplicación",
    "confirm_recovery_title": "¿Generar códigos de recuperación nuevos?",
    "confirm_recovery_body": (
        "Recibirá diez códigos nuevos, que se muestran una sola vez. Los códigos de "
        "recuperación que tiene ahora dejan de funcionar."
    ),
    "confirm_recovery_button": "Generar códigos nuevos",
    "confirm_revoke_all_title": "¿Revocar todos los navegadores de confianza?",
    "confirm_revoke_all_body": (
        "Cada navegador, también este, pedirá un código la próxima vez que inicie sesión."
    ),
    "confirm_revoke_all_button": "Revocar todos",
    "reauth_password": "Para continuar, vuelva a introducir su contraseña",
    "wrong_password": "Contraseña incorrecta.",
    "expires": "Caduca",
    "this_browser": "Este navegador",
    "browser_on_system": "{browser} en {system}",
    "unknown_browser": "Navegador desconocido",
    "a_browser": "Navegador",
    "recovery_none": "No tiene códigos de recuperación.",
    "recovery_first": "Generar códigos de recuperación",
    # the password page
    "password_title": "Cambiar la contraseña",
    "current_password": "Contraseña actual",
    "new_password": "Contraseña nueva",
    "new_password_again": "Contraseña nueva, otra vez",
    "password_hint": (
        "Al menos {n} caracteres. Unas cuantas palabras sin relación entre sí forman una "
        "contraseña segura."
    ),
    "password_save": "Cambiar la contraseña",
    "password_changed": "Se ha cambiado su contraseña. Se cerraron todas las demás sesiones.",
    "password_length": "La contraseña nueva necesita al menos {n} caracteres.",
    "password_mismatch": "Las dos contraseñas nuevas no coinciden.",
    "password_too_long": "La contraseña nueva puede tener como máximo {n} caracteres.",
    "password_same": "La contraseña nueva es la que ya tiene.",
    # security keys and passkeys: the Security tab, their confirmations, the two-step page
    "keys_title": "Llaves de seguridad y llaves de acceso",
    "keys_help": (
        "Inicie sesión con una llave de seguridad, o con la huella, la cara o el bloqueo de "
        "pantalla de su teléfono u ordenador, en lugar de con un código."
    ),
    "keys_none": "Todavía no tiene llaves de seguridad ni llaves de acceso.",
    "keys_two_step_off": (
        "Active la verificación en dos pasos más arriba para iniciar sesión con sus llaves."
    ),
    "key_name": "Nombre",
    "key_added_on": "Añadida",
    "key_never_used": "Sin usar todavía",
    "key_synced": "Llave de acceso sincronizada",
    "key_rename": "Cambiar el nombre",
    "key_remove": "Quitar",
    "key_first_on": ("Al iniciar sesión se pide primero su llave de seguridad o llave de acceso."),
    "key_first_off": (
        "Al iniciar sesión se pide primero un código; su llave de seguridad o llave de acceso "
        "queda a un clic."
    ),
    "key_first_set": "Pedir primero mi llave",
    "key_first_unset": "Pedir primero un código",
    "key_first_now_on": (
        "Al iniciar sesión se pedirá primero su llave de seguridad o llave de acceso."
    ),
    "key_first_now_off": "Al iniciar sesión se pedirá primero un código.",
    "key_name_label": "Nombre de la llave nueva",
    "key_name_hint": (
        "Para distinguir sus llaves, por ejemplo «Llave USB azul» o «Portátil del trabajo»."
    ),
    "key_add": "Añadir una llave de seguridad o llave de acceso",
    "key_adding": (
        "Añadiendo «{name}»: siga las indicaciones de su navegador. Toque su llave de seguridad "
        "o confirme con su huella, su cara o el bloqueo de pantalla."
    ),
    "key_retry": "Intentar de nuevo",
    "key_added": "Se añadió «{name}». Desde ahora puede iniciar sesión con ella.",
    "key_renamed": "La llave ahora se llama «{name}».",
    "key_removed": "Se quitó «{name}». Ya no sirve para iniciar sesión.",
    "key_gone": "Esa llave de seguridad ya se había quitado.",
    "key_setup_expired": "Añadir la llave tardó demasiado. Empiece de nuevo.",
    "key_not_added": "No se pudo añadir esta llave. Empiece de nuevo.",
    "key_exists": "Esta llave ya está añadida a su cuenta.",
    "key_limit": (
        "Ya tiene el máximo de llaves de seguridad y llaves de acceso de una cuenta. "
        "Quite una para añadir otra."
    ),
    "keys_off": "Ahora no se pueden usar llaves de seguridad ni llaves de acceso.",
    "key_unreadable": "No se pudo leer la respuesta de su navegador. Inténtelo de nuevo.",
    "key_name_missing": "Dé un nombre a la llave.",
    "key_name_invalid": "El nombre de una llave tiene como máximo 64 caracteres, en una línea.",
    "key_new_name": "Nombre nuevo",
    "confirm_remove_key_title": "¿Quitar «{name}»?",
    "confirm_remove_key_body": (
        "Esta llave de seguridad o llave de acceso deja de servir para iniciar sesión al "
        "momento. Podrá añadirla de nuevo más tarde."
    ),
    "confirm_remove_key_button": "Quitar la llave",
    "confirm_rename_key_title": "¿Cambiar el nombre de «{name}»?",
    "confirm_rename_key_body": (
        "El nombre aparece en esta lista y en los correos que le enviamos sobre la llave."
    ),
    "confirm_rename_key_button": "Cambiar el nombre",
    "use_key": "Usar su llave de seguridad o llave de acceso",
    "key_prompt": (
        "Cuando su navegador se lo pida, toque su llave de seguridad o confirme con su huella, "
        "su cara o el bloqueo de pantalla."
    ),
    "key_choose_another": "Elija otro método abajo.",
    "key_refused": (
        "Esta llave no es de su cuenta, o se rechazó su respuesta. Le quedan {n} intentos."
    ),
    "key_refused_one": (
        "Esta llave no es de su cuenta, o se rechazó su respuesta. Le queda {n} intento."
    ),
    "key_not_allowed_get": (
        "La llave de seguridad no respondió: la solicitud se canceló o caducó, o esta llave no "
        "es de su cuenta. Inténtelo de nuevo o elija otro método."
    ),
    "key_not_allowed_create": (
        "Se canceló o caducó el proceso de añadir la llave. Inténtelo de nuevo."
    ),
    "key_wrong_origin": (
        "Su navegador no permite llaves de seguridad en esta dirección. Abra el portal en su "
        "dirección habitual e inténtelo de nuevo."
    ),
    "key_unsupported": (
        "Este navegador no puede usar llaves de seguridad ni llaves de acceso. Use otro método "
        "u otro navegador."
    ),
    "key_failed": "No se pudo usar la llave de seguridad. Inténtelo de nuevo.",
}

CATALOGUE: dict[str, dict[str, str]] = {"en": EN, "fr": FR, "es": ES}
