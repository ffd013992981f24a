"""The flask-wink quickstart: a runnable app that links an account end to end."""
