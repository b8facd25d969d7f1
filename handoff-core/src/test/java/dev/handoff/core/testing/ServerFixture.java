package dev.handoff.core.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link ServerChild} processes (and other test children) sharing one rendezvous socket and one port,
 * and a client for them; {@link #close()} kills whatever is left.
 */
public final class ServerFixture implements AutoCloseable {

    private final Path socket;
    private final int port;
    private final List<JavaChild> children = new ArrayList<>();

    public ServerFixture(Path directory) throws IOException {
        this.socket = directory.resolve("run").resolve("h.sock");
        try (ServerSocket probe = new ServerSocket(0)) {
            this.port = probe.getLocalPort();
        }
    }

    public Path socket() {
        return socket;
    }

    public int port() {
        return port;
    }

    /** A {@link ServerChild} on this socket and port. */
    public JavaChild server(String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of(socket.toString(), Integer.toString(port)));
        args.addAll(List.of(extra));
        return start(ServerChild.class, args.toArray(new String[0]));
    }

    /** Any test child, killed at {@link #close()}. */
    public JavaChild start(Class<?> mainClass, String... args) throws IOException {
        return start(new ProcessBuilder(JavaChild.command(mainClass, args)));
    }

    /** A child started from {@code builder}, killed at {@link #close()}. */
    public JavaChild start(ProcessBuilder builder) throws IOException {
        JavaChild child = JavaChild.start(builder);
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

    @Override
    public void close() {
        children.forEach(JavaChild::close);
    }
}
