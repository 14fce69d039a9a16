"""All tables of dronedeal, imported here so that the metadata knows them."""
