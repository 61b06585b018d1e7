"""Deployment mode's parts beyond the FL protocol: the guarded listening socket,
durable state, TLS material, enrollment, progress lines and the results folder.
`fedsim.deploy` composes them; the emulator uses none of them."""
