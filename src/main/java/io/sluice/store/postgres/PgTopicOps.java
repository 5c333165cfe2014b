package io.sluice.store.postgres;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import io.sluice.store.ConfiguredTopic;
import io.sluice.store.TopicConfig;
import java.sql.SQLException;

/**
 * Topic configuration writes. A lowered limit is kept from the next commit on: what is over it is
 * removed by {@link PgRetention} over the following background transactions, a chunk at a time.
 */
final class PgTopicOps {
    private PgTopicOps() {
    }

    /** Creates a topic with a configuration, or replaces an existing topic's. */
    static final class Configure extends PgWriteOp<ConfiguredTopic> {
        private final String topic;
        private final TopicConfig config;

        Configure(String topic, TopicConfig config, Completion<ConfiguredTopic> done) {
            super(done);
            this.topic = topic;
            this.config = config;
        }

        @Override
        ConfiguredTopic apply(PgWriteTx tx) throws SQLException {
            boolean created = tx.find(topic) == null;
            SluiceException tooMany = tx.tooManyTopics(topic);
            if (tooMany != null) {
                return refuse(tooMany);
            }
            var row = tx.findOrCreate(topic);
            tx.topicConfigs.configure(row.id, config);
            row.config = config;
            return new ConfiguredTopic(config, created);
        }
    }
}
