"""One module per CLI subcommand; each exposes ``register(app)``. ``inspector.cli`` lists them."""
