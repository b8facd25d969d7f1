package dev.handoff.core.manifest;

import dev.handoff.core.channel.Channels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Addresses a peer announces are compared as IP literals only: none of its strings reaches a name lookup. */
@Timeout(30)
class ManifestValidatorTest {

    @Test
    void onlyIpLiteralsAreParsedAndAHostNameIsRefusedWithoutALookup() throws Exception {
        assertTrue(ManifestValidator.isIpLiteral("127.0.0.1"));
        assertTrue(ManifestValidator.isIpLiteral("::1"));
        assertTrue(ManifestValidator.isIpLiteral("0:0:0:0:0:0:0:1"));
        assertTrue(ManifestValidator.isIpLiteral("fe80::1%lo"));
        for (String name : List.of("localhost", "deadbeef.cafe", "example.com", "1.2.3", "127.0.0.1.nip.io", "")) {
            assertFalse(ManifestValidator.isIpLiteral(name), name);
        }
        try (ServerSocketChannel listener = ServerSocketChannel.open(java.net.StandardProtocolFamily.INET)
                .bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            Manifest byName = new Manifest(Manifest.SCHEMA, 1, 1, List.of(new ListenerEntry("main",
                    ListenerEntry.Protocol.TCP, "INET", "localhost", port, 0, Map.of())), List.of(), null);
            InvalidManifestException refused = assertThrows(InvalidManifestException.class,
                    () -> ManifestValidator.validate(byName, List.of(Channels.fileDescriptor(listener))));
            assertTrue(refused.getMessage().contains("should be bound to localhost"), refused.getMessage());
        }
    }
}
