"""Object stores behind one async protocol (see ``base``)."""

from .base import IfMatch, ListPage, ObjectMeta, PutMode, Store, list_all
from .registry import StoreURLError, open_store, split_store_url

__all__ = [
    "IfMatch",
    "ListPage",
    "ObjectMeta",
    "PutMode",
    "Store",
    "StoreURLError",
    "list_all",
    "open_store",
    "split_store_url",
]
