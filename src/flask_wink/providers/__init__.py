"""The upstreams, one package each; the core finds them through the ``flask_wink.providers``
entry point group and never imports them."""
