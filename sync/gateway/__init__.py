"""Agency gateways over HTTP: the reference gateway server and the hub's client.

- `GatewayClient`, `FeedPage`, `RetryPolicy`, `Receipt`: the hub's side
  (`client.py`, `retry.py`, `receipt.py`);
- `Gateway`, `GatewayConfig`, `build_server`: the agency side, a stand-in for an
  agency system and the reference for agencies building their own (`service.py`,
  `server.py`, `store.py`, `feed.py`, `keys.py`, `oauth.py`, `faults.py`).

The HTTP contract is `docs/gateway-openapi.yaml`.
"""
