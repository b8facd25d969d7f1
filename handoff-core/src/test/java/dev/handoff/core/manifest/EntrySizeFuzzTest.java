package dev.handoff.core.manifest;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * Batches of connections are cut by {@link ManifestJson#encodedSizeBound}, computed without encoding: for
 * any entry (any text, control characters and lone surrogates included, any attachment, any unread
 * bytes) it must be at least the size the entry really takes in a batch at the largest fd index, or a
 * batch could outgrow what the successor reads in one message.
 */
class EntrySizeFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void anEntrysSizeBoundIsNeverBelowItsEncodedSize(FuzzedDataProvider data) {
        JsonNode attachment = switch (data.consumeInt(0, 2)) {
            case 0 -> null;
            case 1 -> JsonNodeFactory.instance.textNode(data.consumeString(200));
            default -> JsonNodeFactory.instance.objectNode().put(data.consumeString(20), data.consumeLong());
        };
        ConnectionEntry entry = new ConnectionEntry(data.consumeString(100), data.consumeInt(),
                data.consumeString(60), data.consumeInt(), data.consumeString(60), data.consumeInt(), attachment,
                data.consumeBytes(data.consumeInt(0, 5000)));
        int bound = ManifestJson.encodedSizeBound(entry);
        int size = ManifestJson.encodedSize(entry, Integer.MIN_VALUE);
        if (bound < size) {
            throw new AssertionError("bound " + bound + " < encoded size " + size + " of " + entry);
        }
    }
}
