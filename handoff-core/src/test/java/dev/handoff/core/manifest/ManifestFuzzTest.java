package dev.handoff.core.manifest;

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
                        ManifestValidator.validateConnection(entry, fds.get(entry.fd()));
                    }
                }
            } else {
                Manifest manifest = ManifestJson.fromTree(tree);
                if (ManifestValidator.validate(manifest, fds).size() != 2) {
                    throw new AssertionError("a manifest passed without describing both descriptors: " + tree);
                }
            }
        } catch (InvalidManifestException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("an error without a reason", expected);
            }
        }
    }
}
