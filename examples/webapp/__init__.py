"""The web-app flow of the docs: a Starlette app, one page, the browser PUTs its photos."""
