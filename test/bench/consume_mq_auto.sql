SELECT payload, payload_type FROM mq.fetch('drain', 'bench', max => 100, auto_commit => true);
