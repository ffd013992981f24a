"""Offline emulators of the upstreams: ``python -m flask_wink.sandbox [NAME] --port N``.

Each provider package ships its own (``flask_wink.providers.<name>.sandbox``); this module only
finds one by name and serves it.
"""
