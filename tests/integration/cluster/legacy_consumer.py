#!/usr/bin/python3
"""A RabbitMQ consumer written before hivebridge existed: it binds its own queue
to the hive.events topic exchange and prints the JSON bodies it gets, one per
line. The cluster test checks hivebridge keeps the seed's message shape.

    legacy_consumer.py AMQP_URL ROUTING_PATTERN COUNT
"""
import json
import sys

import pika


def main():
    url, pattern, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare("hive.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "hive.events", routing_key=pattern)
    print("ready", flush=True)
    received = 0
    for method, properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=20):
        if method is None:
            print("timeout", flush=True)
            return 1
        line = {"routing_key": method.routing_key, "body": json.loads(body)}
        # hivebridge's verdict on an event whose fields did not fit its type
        # rides in a header, so the body stays the device's own fields.
        schema_error = (properties.headers or {}).get("x-hive-schema-error")
        if schema_error is not None:
            line["schema_error"] = schema_error.decode() if isinstance(schema_error, bytes) else schema_error
        print(json.dumps(line), flush=True)
        received += 1
        if received == count:
            return 0


if __name__ == "__main__":
    sys.exit(main())
