package dev.handoff.core;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.session.SharedSecret;
import dev.handoff.core.session.SuccessorSession;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.WireChannel;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Runs the code of a handoff once before it is needed. Each process hands over exactly once, so without
 * this that code would run cold (class loading, reflection set-up, codec introspection) between a
 * successor's connect and its READY, and while every connection of a batch waits. The codecs and the
 * connection path run here on their own, then a whole handoff between two sessions of this process
 * ({@link Rehearsal}).
 */
final class WarmUp {

    private static final Logger log = LoggerFactory.getLogger(WarmUp.class);

    /** Enough batches for the JIT's first tier to compile the per-connection path. */
    private static final int BATCHES = 4;
    private static final int REFLECTION_INFLATION = 15;
    private static boolean rehearsed;

    private WarmUp() {
    }

    static void run(SharedSecret secret, FdLimits limits) throws IOException {
        loadLibraryClasses();
        FdChannel.warmUp();
        WireChannel.warmUp();
        ManifestJson.warmUp();
        connectionPath();
        SharedSecret.warmUp(secret);
        rehearse(secret, limits);
    }

    /**
     * Once a process: its first-run costs are paid by then (a JVM that starts several Handoffs, as tests and
     * benchmarks do, would otherwise rehearse at each start). Best effort: a start never fails for want of a
     * rehearsal (a read-only temporary directory, say), and the next start tries again.
     */
    private static synchronized void rehearse(SharedSecret secret, FdLimits limits) {
        if (rehearsed) {
            return;
        }
        try {
            Rehearsal.run(Path.of(System.getProperty("java.io.tmpdir")), secret, limits);
            rehearsed = true;
        } catch (IOException | RuntimeException e) {
            log.info("the handoff was not rehearsed ({}): its code runs for the first time in this process when "
                    + "a real handoff does", e.toString());
        }
    }

    /**
     * Loads every class of this library now: a process that later runs out of descriptors (EMFILE) could
     * not open a class file then (from a directory, each class is a file), and a class that failed to load
     * stays failed for good, which would end every handoff after it.
     */
    private static void loadLibraryClasses() {
        try {
            Path root = Path.of(WarmUp.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            List<String> names = new ArrayList<>();
            if (Files.isDirectory(root)) {
                try (Stream<Path> files = Files.walk(root)) {
                    files.map(root::relativize).map(Path::toString).forEach(names::add);
                }
            } else {
                try (JarFile jar = new JarFile(root.toFile())) {
                    jar.stream().map(JarEntry::getName).forEach(names::add);
                }
            }
            for (String name : names) {
                if (name.startsWith("dev/handoff/core/") && name.endsWith(".class")) {
                    Class.forName(name.substring(0, name.length() - 6).replace('/', '.'), false, WarmUp.class.getClassLoader());
                }
            }
        } catch (IOException | URISyntaxException | ClassNotFoundException | RuntimeException | LinkageError e) {
            log.debug("could not load the library's classes ahead of time", e);
        }
    }

    /**
     * Both halves of a connection hand-over, on a loopback connection of our own: full batches, encoded,
     * decoded, their descriptors sent through SCM_RIGHTS, checked and built into channels, as a drain
     * moves a thousand connections in a process that never ran that code.
     */
    private static void connectionPath() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            Connection connection = new Connection("warm-up", accepted, JsonNodeFactory.instance.objectNode().put("k", 1),
                    ByteBuffer.wrap(new byte[] {1}));
            // At least 16 channels a batch: on JDK 17 the 16th reflective construction generates an accessor
            // class, which must not happen during a real hand-over.
            int batchSize = Math.max(REFLECTION_INFLATION + 1, FdChannel.maxFdsPerMessage());
            for (int round = 0; round < BATCHES; round++) {
                List<ConnectionEntry> sent = new ArrayList<>(batchSize);
                List<FileDescriptor> fds = new ArrayList<>(batchSize);
                for (int i = 0; i < batchSize; i++) {
                    sent.add(connection.entry().atFd(i));
                    fds.add(Channels.fileDescriptor(accepted));
                }
                Message received = WireChannel.decode(WireChannel.encode(new Message.Connections(ManifestJson.connectionsToTree(sent))));
                List<ConnectionEntry> entries = ManifestJson.connectionsFromTree(((Message.Connections) received).connections());
                List<FileDescriptor> copies = new ArrayList<>(FdChannel.roundTrip(fds));
                try {
                    for (int i = 0; i < entries.size(); i++) {
                        SuccessorSession.channelOf(entries.get(i), copies.set(i, null)).close();
                    }
                } finally {
                    Fds.closeQuietly(copies.stream().filter(Objects::nonNull).toList());
                }
            }
        }
    }
}
