package dev.handoff.core.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@link ServerChild} processes (and other test children) sharing one rendezvous socket and one port,
 * and a client for them. As a JUnit extension ({@code @RegisterExtension}) each test gets a fresh
 * directory and port, and whatever children are left are killed after it.
 */
public final class ServerFixture implements BeforeEachCallback, AfterEachCallback {

    private Path directory;
    private Path socket;
    private volatile int port;
    private final List<JavaChild> children = new ArrayList<>();

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        directory = Files.createTempDirectory("handoff-test");
        socket = directory.resolve("run").resolve("h.sock");
        port = 0; // the first server binds port 0 and says which port the kernel gave it ("PORT n")
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        children.forEach(JavaChild::close);
        children.clear();
        try (Stream<Path> files = Files.walk(directory)) {
            files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    /** This test's own directory (the socket's lives in it). */
    public Path directory() {
        return directory;
    }

    public Path socket() {
        return socket;
    }

    /** The port the servers listen on: 0 until the first of them has said which one the kernel gave it. */
    public int port() {
        return port;
    }

    private void observe(String line) {
        if (line.startsWith("PORT ")) {
            port = Integer.parseInt(line.substring("PORT ".length()).trim());
        }
    }

    /** A {@link ServerChild} on this socket and port. */
    public JavaChild server(String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of(socket.toString(), Integer.toString(port)));
        args.addAll(List.of(extra));
        return start(ServerChild.class, args.toArray(new String[0]));
    }

    /** Any test child, killed at {@link #afterEach}. */
    public JavaChild start(Class<?> mainClass, String... args) throws IOException {
        return start(new ProcessBuilder(JavaChild.command(mainClass, args)));
    }

    /** A child started from {@code builder}, killed at {@link #afterEach}. */
    public JavaChild start(ProcessBuilder builder) throws IOException {
        JavaChild child = JavaChild.start(builder, this::observe);
        children.add(child);
        return child;
    }

    /** One request: a {@link ServerChild} answers {@code pid generation openFds}. */
    public String[] fetch() throws IOException {
        try (Socket client = new Socket()) {
            client.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            client.setSoTimeout(5000);
            String line = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII))
                    .readLine();
            if (line == null) {
                throw new IOException("connection closed without an answer");
            }
            return line.split(" ");
        }
    }

    /**
     * Waits (up to 10 s) until ten requests in a row are answered by {@code pid}: while a takeover settles
     * (probation) both processes accept, each request going to either.
     */
    public void awaitServedBy(long pid) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        String last = null;
        int inARow = 0;
        while (System.nanoTime() < deadline) {
            last = fetch()[0];
            inARow = last.equals(Long.toString(pid)) ? inARow + 1 : 0;
            if (inARow == 10) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("requests are still answered by pid " + last + ", not " + pid);
    }
}
