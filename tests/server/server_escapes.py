"""Path forms every path-taking endpoint must refuse."""

# Paths that try to leave the server root, each as a user (or an attacker) could type it; the
# "link" ones are symlinks that the `escape_links` fixture plants under the root.
ESCAPES = [
    "../outside/secret.ipynb",
    "nbs/../../outside/secret.ipynb",
    "%2e%2e/outside/secret.ipynb",
    "%2E%2E%2Foutside%2Fsecret.ipynb",
    "..%2foutside/secret.ipynb",
    "nbs\\..\\..\\outside\\secret.ipynb",
    "secret\x00.ipynb",
    "link.ipynb",
    "linkdir/secret.ipynb",
]
