"""Transport front ends: how tasks, models and updates move between the FL server's
round logic (fedsim.fl.service, the engine) and the clients. HTTP is fedsim.fl.server
and fedsim.fl.client; CoAP is `coap_server` and `coap_client` (docs/transports.md)."""
