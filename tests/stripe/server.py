"""localstripe for the test suite: ``python -m tests.stripe.server <port>``.

The same app as ``localstripe --port <port> --from-scratch``, but bound to 127.0.0.1 only (the
command binds every interface) and with its store kept in memory: the command writes it to
``/tmp/localstripe.pickle`` on every change, a file shared with every other localstripe on the
machine.
"""

import sys

from aiohttp import web
from localstripe import resources

resources.Store.dump_to_disk = lambda self: None

from localstripe.server import app  # noqa: E402  (after the store is kept in memory)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
