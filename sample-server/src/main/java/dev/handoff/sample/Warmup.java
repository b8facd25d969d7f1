package dev.handoff.sample;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs the serving code on a throw-away event loop, on ephemeral loopback ports, before this process
 * asks for its predecessor's sockets: a plain blocking client in this process sends it requests on each
 * protocol. A fresh JVM interprets its code at first; without this, the first thousands of requests
 * after a takeover would be served slowly while the JIT catches up. The predecessor keeps serving
 * meanwhile, so the time spent here costs no one anything.
 */
final class Warmup {

    private static final int REQUESTS = 2_000; // per protocol: enough for the JIT to compile the request path
    private static final byte[] GET = "GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

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
        try {
            warmHttp((InetSocketAddress) http.getLocalAddress());
            warmEcho((InetSocketAddress) echo.getLocalAddress());
        } catch (IOException e) {
            // Only an optimisation: this copy serves all the same, slowly at first.
            System.err.println("warm-up failed, serving cold: " + e);
        }
        CountDownLatch drained = new CountDownLatch(1);
        loop.drain(null, Instant.now().plusSeconds(1), report -> drained.countDown(), () -> { });
        drained.await(5, TimeUnit.SECONDS);
    }

    /** {@code GET /} again and again on one keep-alive connection. */
    private static void warmHttp(InetSocketAddress address) throws IOException {
        try (Socket socket = connect(address)) {
            BufferedReader in = reader(socket);
            for (int i = 0; i < REQUESTS; i++) {
                socket.getOutputStream().write(GET);
                while (!line(in).isEmpty()) { // the status line and the headers
                    continue;
                }
                line(in); // the body: this server's answers are one line of JSON
            }
        }
    }

    private static void warmEcho(InetSocketAddress address) throws IOException {
        try (Socket socket = connect(address)) {
            BufferedReader in = reader(socket);
            for (int i = 0; i < REQUESTS; i++) {
                socket.getOutputStream().write(("warm-up " + i + "\n").getBytes(StandardCharsets.US_ASCII));
                line(in);
            }
        }
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket socket = new Socket(address.getAddress(), address.getPort());
        socket.setSoTimeout(5_000);
        return socket;
    }

    private static BufferedReader reader(Socket socket) throws IOException {
        return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
    }

    private static String line(BufferedReader in) throws IOException {
        String line = in.readLine();
        if (line == null) {
            throw new EOFException("the warm-up loop closed the connection");
        }
        return line;
    }
}
