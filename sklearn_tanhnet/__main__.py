"""Command line: ``tanhnet demo`` (also ``python -m sklearn_tanhnet``)."""

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tanhnet",
        description="Small tanh neural-network regression for scikit-learn.",
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help="fit the lecture's y = x^(1/3) problem with both solvers, "
        "print a report and write a plot",
    )
    demo.add_argument(
        "--output",
        default="tanhnet_demo.png",
        help="PNG file to write (default: %(default)s)",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command in (None, "demo"):
        from ._demo import run_demo

        run_demo(
            output=getattr(args, "output", "tanhnet_demo.png"),
            random_state=getattr(args, "random_state", 0),
        )
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands itself


if __name__ == "__main__":
    sys.exit(main())
