-- wrk script: POST one order per request (no orderId: a new order each time).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customerId":"c-42","items":[{"sku":"b-1","qty":1},{"sku":"b-2","qty":2}]}'
