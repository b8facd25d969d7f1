package dev.handoff.core.wire;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.handoff.core.manifest.InvalidManifestException;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.manifest.ManifestValidator;

import java.io.IOException;
import java.util.List;

/**
 * Feeds the message decoder, and the manifest and connection-batch readers behind it, any frame payload:
 * each is a message or a {@link ProtocolException} / {@link InvalidManifestException} that says what is
 * wrong, never another exception. A message that decodes encodes again.
 */
class MessageFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void anyPayloadIsAMessageOrAClearError(byte[] payload) throws IOException {
        Message message;
        try {
            message = WireChannel.decode(payload);
        } catch (ProtocolException expected) {
            requireReason(expected);
            return;
        }
        WireChannel.JSON.writeValueAsBytes(message);
        try {
            if (message instanceof Message.Handover handover) {
                Manifest manifest = ManifestJson.fromTree(handover.manifest());
                ManifestJson.toTree(manifest);
                ManifestValidator.validate(manifest, List.of());
            } else if (message instanceof Message.Connections batch) {
                ManifestJson.connectionsToTree(ManifestJson.connectionsFromTree(batch.connections()));
            }
        } catch (InvalidManifestException expected) {
            requireReason(expected);
        }
    }

    private static void requireReason(Exception e) {
        if (e.getMessage() == null || e.getMessage().isBlank()) {
            throw new AssertionError("an error without a reason", e);
        }
    }
}
