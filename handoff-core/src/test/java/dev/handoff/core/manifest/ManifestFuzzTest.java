package dev.handoff.core.manifest;

import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdType;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.handoff.core.channel.Channels;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;

/**
 * Feeds the manifest and connection-entry readers any JSON, then checks what they read against real
 * descriptors (a listener and a connected socket on loopback): a manifest that passes must describe
 * them truly; everything else must be an {@link InvalidManifestException} that says why.
 */
class ManifestFuzzTest {

    private static void assertTrue(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    private static boolean sameEndpoint(String address, int port, java.net.SocketAddress real) {
        InetSocketAddress socket = (InetSocketAddress) real;
        return port == socket.getPort() && address != null && address.equals(socket.getAddress().getHostAddress());
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ServerSocketChannel LISTENER;
    private static final SocketChannel CONNECTION;

    static {
        try {
            LISTENER = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CONNECTION = SocketChannel.open(LISTENER.getLocalAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void anyJsonIsATrueManifestOrAClearError(byte[] input) throws IOException {
        JsonNode tree;
        try {
            tree = JSON.readTree(input);
        } catch (IOException notJson) {
            return; // not JSON, or not in any Unicode encoding: nothing for the manifest layer to read
        }
        if (tree == null) {
            return;
        }
        List<FileDescriptor> fds = List.of(Channels.fileDescriptor(LISTENER), Channels.fileDescriptor(CONNECTION));
        try {
            if (tree.isArray()) {
                for (ConnectionEntry entry : ManifestJson.connectionsFromTree(tree)) {
                    if (entry.fd() >= 0 && entry.fd() < fds.size()) {
                        ManifestValidator.validateConnection(entry, FdInspector.describeConnection(fds.get(entry.fd())));
                        // The descriptor at index 1 is the connection: its local address, as the channel reads it.
                        ManifestValidator.validateLocalAddress(entry, (InetSocketAddress) CONNECTION.getLocalAddress());
                        assertTrue(entry.fd() == 1 && sameEndpoint(entry.localAddress(), entry.localPort(),
                                CONNECTION.getLocalAddress()) && sameEndpoint(entry.remoteAddress(), entry.remotePort(),
                                CONNECTION.getRemoteAddress()), "a connection entry passed that is not the connection: " + tree);
                    }
                }
            } else {
                Manifest manifest = ManifestJson.fromTree(tree);
                ManifestValidator.validate(manifest, fds);
                // Checked here against the real sockets, not against what the validator says it saw.
                for (ListenerEntry listener : manifest.listeners()) {
                    assertTrue(listener.fd() == 0 && listener.protocol() == ListenerEntry.Protocol.TCP
                            && sameEndpoint(listener.address(), listener.port(), LISTENER.getLocalAddress()),
                            "a listener entry passed that is not the listener: " + tree);
                }
                for (FileEntry file : manifest.files()) {
                    assertTrue(file.type() == (file.fd() == 0 ? FdType.TCP_LISTENER : FdType.TCP_CONNECTION),
                            "a file entry passed whose type is not its descriptor's: " + tree);
                }
                assertTrue(manifest.listeners().size() + manifest.files().size() == fds.size(),
                        "a manifest passed without describing every descriptor once: " + tree);
            }
        } catch (InvalidManifestException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("an error without a reason", expected);
            }
        }
    }
}
