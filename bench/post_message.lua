-- wrk script: POST one JSON message per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"body":"{\\"orderId\\":\\"ord-000123\\",\\"customerId\\":\\"c-42\\",\\"items\\":[{\\"sku\\":\\"prod-001\\",\\"qty\\":2}]}"}'
