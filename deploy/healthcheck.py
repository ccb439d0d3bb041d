"""Container HEALTHCHECK: exit 0 when this service's /healthz answers 200 (standard library only)."""

import os
import sys
import urllib.request


def main(port_variable: str) -> int:
    port = os.environ.get(port_variable, "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthz on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
