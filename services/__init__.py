"""The Early Warning services and the `earlywarning` command."""
