"""The ``zsar`` console script (placeholder while the foundation is being written)."""


def main(argv=None) -> int:
    from trainer.cli import main as trainer_main

    return trainer_main(argv)
