import demistomock as demisto  # noqa: F401


def main():
    demisto.results(demisto.args().get("text"))


if __name__ in ("__main__", "__builtin__", "builtins"):
    main()
