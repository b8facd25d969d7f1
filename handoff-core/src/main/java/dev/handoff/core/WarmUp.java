package dev.handoff.core;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.manifest.ManifestValidator;
import dev.handoff.core.session.SharedSecret;
import dev.handoff.core.wire.WireChannel;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Runs the code of a handoff once before it is needed. Each process hands over exactly once, so without
 * this that code would run cold (class loading, reflection set-up, codec introspection) between a
 * successor's connect and its READY, and while every connection of a batch waits.
 */
final class WarmUp {

    private static final int ROUNDS = 500;
    private static final int REFLECTION_INFLATION = 15;

    private WarmUp() {
    }

    static void run(SharedSecret secret) throws IOException {
        FdChannel.warmUp();
        WireChannel.warmUp();
        ManifestJson.warmUp();
        connectionPath();
        SharedSecret.warmUp(secret);
    }

    /** Both halves of a connection hand-over, on a loopback connection of our own. */
    private static void connectionPath() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            Connection connection = new Connection("warm-up", accepted, JsonNodeFactory.instance.objectNode().put("k", 1),
                    ByteBuffer.wrap(new byte[] {1}));
            // One copy per channel to build: on JDK 17 the 16th reflective construction generates an accessor
            // class, which must not happen during a real hand-over.
            List<FileDescriptor> copies = new ArrayList<>(FdChannel.roundTrip(
                    Collections.nCopies(REFLECTION_INFLATION + 1, Channels.fileDescriptor(accepted))));
            try {
                // Enough rounds for the JIT's first tier to compile the path.
                for (int i = 0; i < ROUNDS; i++) {
                    ConnectionEntry entry = ManifestJson.connectionsFromTree(ManifestJson.connectionsToTree(
                            List.of(connection.entry()))).get(0);
                    ManifestValidator.validateConnection(entry, copies.get(0));
                }
                while (!copies.isEmpty()) {
                    FileDescriptor copy = copies.get(0);
                    FdDescription description = FdInspector.describeConnection(copy);
                    Channels.socketChannel(copy, description.family(), description.remoteAddress()).close();
                    copies.remove(0);
                }
            } finally {
                Fds.closeQuietly(copies);
            }
        }
    }
}
