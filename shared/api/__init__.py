"""The public HTTP API's typed contracts: request and response models, the operations
that bind them to routes, and the OpenAPI 3.1 document generated from both."""
