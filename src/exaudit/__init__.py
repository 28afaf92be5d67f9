"""exaudit — is each Exchange server exposed, was it compromised, what must we do and tell."""

__version__ = "0.1.0"
