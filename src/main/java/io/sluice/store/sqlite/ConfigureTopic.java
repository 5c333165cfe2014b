package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.TopicConfig;
import java.sql.SQLException;

/**
 * Creates a topic with a configuration, or replaces an existing topic's. What a lowered limit puts
 * over it is removed by {@link Retention} over the following transactions, a chunk at a time.
 */
final class ConfigureTopic extends WriteOp<ConfiguredTopic> {
    private final String topic;
    private final TopicConfig config;

    ConfigureTopic(String topic, TopicConfig config, Completion<ConfiguredTopic> done) {
        super(done);
        this.topic = topic;
        this.config = config;
    }

    @Override
    ConfiguredTopic apply(WriteTx tx) throws SQLException {
        TopicRow row = tx.find(topic);
        if (row == null) {
            SluiceException tooMany = tx.tooManyTopics(topic);
            if (tooMany != null) {
                return refuse(tooMany);
            }
            tx.findOrCreate(topic, config);
            return new ConfiguredTopic(config, true);
        }
        tx.configure(row, config);
        return new ConfiguredTopic(config, false);
    }
}
