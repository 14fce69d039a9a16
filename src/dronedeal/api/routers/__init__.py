"""The API's routers, one per group of resources."""
