package dev.handoff.core.manifest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.handoff.core.fd.FdType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A manifest as the JSON tree that travels in the protocol's {@code manifest} message, and a batch of
 * connections as the tree of a {@code connections} message; and back.
 */
public final class ManifestJson {

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private ManifestJson() {
    }

    public static JsonNode toTree(Manifest manifest) {
        return JSON.valueToTree(manifest);
    }

    /** Reads a manifest; JSON that does not fit the model is an {@link InvalidManifestException}. */
    public static Manifest fromTree(JsonNode tree) throws InvalidManifestException {
        if (tree == null || !tree.isObject()) {
            throw new InvalidManifestException(List.of("the manifest is not a JSON object: " + tree));
        }
        try {
            return JSON.treeToValue(tree, Manifest.class);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new InvalidManifestException(List.of("unreadable manifest: " + e.getMessage()));
        }
    }

    /**
     * Each connection travels as an array of eight values, in the order of {@link ConnectionEntry}'s
     * components (listener, fd, localAddress, localPort, remoteAddress, remotePort, attachment, unread as
     * base64): a batch has hundreds of them, and arrays cost much less to write and read than objects.
     */
    public static JsonNode connectionsToTree(List<ConnectionEntry> connections) {
        ArrayNode array = JSON.createArrayNode();
        for (ConnectionEntry connection : connections) {
            ArrayNode entry = array.addArray();
            entry.add(connection.listener());
            entry.add(connection.fd());
            entry.add(connection.localAddress());
            entry.add(connection.localPort());
            entry.add(connection.remoteAddress());
            entry.add(connection.remotePort());
            entry.add(connection.attachment());
            entry.add(connection.unread());
        }
        return array;
    }

    /**
     * At least as many bytes as {@code connection} takes in a batch, at any fd index, computed without
     * encoding it (only an attachment is encoded): a character takes at most six bytes in JSON (an escape),
     * a number eleven, the unread bytes their base64.
     */
    public static int encodedSizeBound(ConnectionEntry connection) {
        int attachment;
        try {
            attachment = connection.attachment() == null ? 4 : JSON.writeValueAsBytes(connection.attachment()).length;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the attachment cannot be written as JSON", e);
        }
        long bound = 2L + 7 + 3 * 11 + attachment + 4L * ((connection.unread().length + 2) / 3) + 2
                + quoted(connection.listener()) + quoted(connection.localAddress()) + quoted(connection.remoteAddress());
        return (int) Math.min(Integer.MAX_VALUE, bound);
    }

    private static long quoted(String text) {
        return text == null ? 4 : 2 + 6L * text.length();
    }

    /** The exact number of bytes {@code connection} takes in a batch at fd index {@code fd}. */
    public static int encodedSize(ConnectionEntry connection, int fd) {
        try {
            return JSON.writeValueAsBytes(connectionsToTree(List.of(connection.atFd(fd))).get(0)).length;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the connection cannot be written as JSON", e);
        }
    }

    /** Reads a batch of connections; JSON that does not fit the model is an {@link InvalidManifestException}. */
    public static List<ConnectionEntry> connectionsFromTree(JsonNode tree) throws InvalidManifestException {
        if (tree == null || !tree.isArray()) {
            throw new InvalidManifestException(List.of("the connection batch is not a JSON array: " + tree));
        }
        List<ConnectionEntry> connections = new ArrayList<>(tree.size());
        for (JsonNode node : tree) {
            try {
                if (!node.isArray() || node.size() != 8) {
                    throw new IllegalArgumentException("expected an array of 8 values");
                }
                JsonNode attachment = node.get(6);
                JsonNode unread = node.get(7);
                connections.add(new ConnectionEntry(text(node, 0, "listener"), integer(node, 1, "fd"),
                        text(node, 2, "localAddress"), integer(node, 3, "localPort"), text(node, 4, "remoteAddress"),
                        integer(node, 5, "remotePort"), attachment.isNull() ? null : attachment,
                        unread.isNull() ? null : unread.binaryValue()));
            } catch (IOException | IllegalArgumentException e) {
                throw new InvalidManifestException(List.of("unreadable connection entry " + node + ": " + e.getMessage()));
            }
        }
        return connections;
    }

    private static String text(JsonNode node, int index, String field) {
        JsonNode value = node.get(index);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException("'" + field + "' must be a string");
        }
        return value.textValue();
    }

    private static int integer(JsonNode node, int index, String field) {
        JsonNode value = node.get(index);
        if (value == null || !value.canConvertToInt() || !value.isIntegralNumber()) {
            throw new IllegalArgumentException("'" + field + "' must be an integer");
        }
        return value.intValue();
    }

    /**
     * Loads and links the manifest codec, so that a freshly started JVM does not pay for it between the
     * successor's connect and its READY, while the incumbent waits.
     */
    public static void warmUp() {
        Manifest sample = new Manifest(Manifest.SCHEMA, 1, 1,
                List.of(new ListenerEntry("l", ListenerEntry.Protocol.TCP, "INET", "127.0.0.1", 1, 0, Map.of("o", "v"))),
                List.of(new FileEntry("f", FdType.FILE, 1)), JSON.createObjectNode().put("k", "v"));
        try {
            fromTree(toTree(sample));
            connectionsFromTree(connectionsToTree(List.of(new ConnectionEntry("l", 0, "127.0.0.1", 1, "127.0.0.1", 2,
                    JSON.createObjectNode().put("k", "v"), new byte[] {1}))));
        } catch (InvalidManifestException e) {
            throw new IllegalStateException("manifest codec does not round-trip", e);
        }
    }
}
