"""One module per ``zsar`` subcommand; each has ``add_parser(subparsers)``."""
