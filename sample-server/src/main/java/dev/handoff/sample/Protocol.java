package dev.handoff.sample;

/** What a listener speaks: turns the bytes a connection has received into answers. */
interface Protocol {

    /**
     * Answers every complete request at the front of {@code connection}'s input and consumes it; leaves a
     * partial request where it is. Stops early while the connection is busy with a delayed answer.
     */
    void process(ClientConnection connection);
}
