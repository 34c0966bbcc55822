"""Storage layer: object store, catalog and the workspace that joins them."""

from .index import Catalog, CatalogSession
from .objects import ObjectStore, StoredObject, hash_file
from .workspace import Workspace

__all__ = ["Catalog", "CatalogSession", "ObjectStore", "StoredObject", "Workspace", "hash_file"]
