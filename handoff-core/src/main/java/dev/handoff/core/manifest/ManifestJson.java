package dev.handoff.core.manifest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.handoff.core.fd.FdType;

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

    public static JsonNode connectionsToTree(List<ConnectionEntry> connections) {
        ArrayNode array = JSON.createArrayNode();
        for (ConnectionEntry connection : connections) {
            array.add(JSON.valueToTree(connection));
        }
        return array;
    }

    /** Reads a batch of connections; JSON that does not fit the model is an {@link InvalidManifestException}. */
    public static List<ConnectionEntry> connectionsFromTree(JsonNode tree) throws InvalidManifestException {
        if (tree == null || !tree.isArray()) {
            throw new InvalidManifestException(List.of("the connection batch is not a JSON array: " + tree));
        }
        List<ConnectionEntry> connections = new ArrayList<>(tree.size());
        try {
            for (JsonNode node : tree) {
                connections.add(JSON.treeToValue(node, ConnectionEntry.class));
            }
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new InvalidManifestException(List.of("unreadable connection entry: " + e.getMessage()));
        }
        return connections;
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
