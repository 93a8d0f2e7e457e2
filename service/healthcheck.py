"""`python -m service.healthcheck`: exit 0 when /healthz answers 200 on this container's
PORT. The image's HEALTHCHECK uses it, so the image needs no curl."""

import os
import sys
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
