"""HTTP handlers, one module per entity: parse, call one repository function, respond."""
