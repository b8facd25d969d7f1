package dev.handoff.sample;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs the serving code on a throw-away event loop, on ephemeral loopback ports, before this process
 * asks for its predecessor's sockets. A fresh JVM interprets its code at first; without this, the first
 * thousands of requests after a takeover would be served slowly while the JIT catches up. The
 * predecessor keeps serving meanwhile, so the time spent here costs no one anything.
 */
final class Warmup {

    private static final int HTTP_REQUESTS = 6_000;

    private Warmup() {
    }

    static void run(long pid) throws IOException, InterruptedException {
        EventLoop loop = new EventLoop(Map.of("http", new HttpProtocol(pid, 0), "echo", new EchoProtocol(pid)));
        ServerSocketChannel http = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        ServerSocketChannel echo = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        loop.listen("http", http);
        loop.listen("echo", echo);
        Thread thread = new Thread(loop, "warm-up-loop");
        thread.setDaemon(true);
        thread.start();
        HttpLoad load = new HttpLoad((InetSocketAddress) http.getLocalAddress(), "/", 1, 0);
        EchoFleet fleet = new EchoFleet((InetSocketAddress) echo.getLocalAddress(), 1, 1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (load.requests() < HTTP_REQUESTS && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        load.close();
        fleet.close();
        CountDownLatch drained = new CountDownLatch(1);
        loop.drain(null, java.time.Instant.now().plusSeconds(1), report -> drained.countDown(), () -> { });
        drained.await(5, TimeUnit.SECONDS);
    }
}
