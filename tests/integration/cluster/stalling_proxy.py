#!/usr/bin/python3
"""A TCP proxy between one replica and the test's RabbitMQ broker that can
stall the replica's data connection while its presence connection flows.

    stalling_proxy.py BROKER_PORT

Prints "listening PORT" once it accepts. On SIGUSR1 it stops reading what the
replica writes on every connection but the presence one; on SIGUSR2 it reads
them again. A stalled connection's socket buffers soon fill, and the replica's
writes on it block, as when a broker reads a busy publisher slowly: what the
replica's data path goes through, with its presence untouched.

A connection is the presence one when the replica's opening bytes (AMQP's
connection.start-ok, whose client properties carry the connection's name,
"hivebridge <replica> presence") say so. Those bytes are always read, so a
connection made during a stall is told apart too.
"""
import asyncio
import signal
import sys

# Enough for the protocol header and connection.start-ok.
HANDSHAKE_BYTES = 4096


class Connection:
    def __init__(self):
        self.head = b""
        self.presence = None  # unknown until the name is seen


async def replica_to_broker(reader, writer, connection, flowing):
    while True:
        if connection.presence is False:
            await flowing.wait()
        data = await reader.read(65536)
        if not data:
            break
        if connection.presence is None:
            connection.head += data
            if b"hivebridge" in connection.head or len(connection.head) > HANDSHAKE_BYTES:
                connection.presence = b" presence" in connection.head
                print("connection", "presence" if connection.presence else "data", flush=True)
        writer.write(data)
        await writer.drain()
    writer.close()


async def broker_to_replica(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main():
    broker_port = int(sys.argv[1])
    flowing = asyncio.Event()
    flowing.set()
    loop = asyncio.get_running_loop()
    def stall():
        flowing.clear()
        print("stalled", flush=True)

    def flow():
        flowing.set()
        print("flowing", flush=True)

    loop.add_signal_handler(signal.SIGUSR1, stall)
    loop.add_signal_handler(signal.SIGUSR2, flow)

    async def serve(replica_reader, replica_writer):
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", broker_port)
        except OSError:
            replica_writer.close()
            return
        connection = Connection()
        await asyncio.gather(
            replica_to_broker(replica_reader, broker_writer, connection, flowing),
            broker_to_replica(broker_reader, replica_writer),
            return_exceptions=True,
        )

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
