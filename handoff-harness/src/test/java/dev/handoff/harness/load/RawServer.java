package dev.handoff.harness.load;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A loopback server whose every connection is served by a test's own code, each on a thread of its own. */
public final class RawServer implements AutoCloseable {

    /** What a test does with one accepted connection; it is closed afterwards. */
    public interface Handler {
        void serve(Socket socket, int connection) throws IOException;
    }

    private final ServerSocket listener;
    private final AtomicInteger accepted = new AtomicInteger();

    public RawServer(Handler handler) throws IOException {
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(() -> {
            while (!listener.isClosed()) {
                try {
                    Socket socket = listener.accept();
                    int connection = accepted.getAndIncrement();
                    Thread serving = new Thread(() -> {
                        try (socket) {
                            handler.serve(socket, connection);
                        } catch (IOException ignored) {
                            // the client went away: its side of the story is what the tests look at
                        }
                    }, "raw-server-connection-" + connection);
                    serving.setDaemon(true);
                    serving.start();
                } catch (IOException e) {
                    return; // closed
                }
            }
        }, "raw-server-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    public int accepted() {
        return accepted.get();
    }

    /** A loopback address that refuses connections: a port just released. */
    public static InetSocketAddress nobodyListening() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return (InetSocketAddress) probe.getLocalSocketAddress();
        }
    }

    /** Reads one request head (up to its blank line); false when the client closed the connection instead. */
    public static boolean readRequest(InputStream in) throws IOException {
        int matched = 0;
        byte[] end = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        while (matched < end.length) {
            int c = in.read();
            if (c < 0) {
                return false;
            }
            matched = c == end[matched] ? matched + 1 : c == end[0] ? 1 : 0;
        }
        return true;
    }

    public static void write(Socket socket, String text) throws IOException {
        socket.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
    }

    /** Waits until {@code condition} holds, failing after {@code timeout}. */
    public static void await(BooleanSupplier condition, String what, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "no " + what + " within " + timeout);
            Thread.sleep(5);
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
