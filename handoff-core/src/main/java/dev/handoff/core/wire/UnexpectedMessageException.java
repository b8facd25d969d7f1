package dev.handoff.core.wire;

/** A well-formed message that the receiving state does not expect. */
public class UnexpectedMessageException extends ProtocolException {

    public UnexpectedMessageException(String message) {
        super(message);
    }
}
