"""Static files for the production profile."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    # The seat picker is plain ES modules that import each other; rewrite those imports to the
    # hashed names too, or a browser could mix a new module with a cached old one.
    support_js_module_import_aggregation = True
