import { checkedApp } from './checks.ts';
import { configFromContext } from './config.ts';
import { DfstoreStack } from './dfstore-stack.ts';

// `cdk synth|deploy -c backend=s3 …` (README "Deploy"); environment-agnostic, so synth is offline.
// cdk-nag and cfn-guard run at every synth: an unacknowledged finding fails it.
const app = checkedApp();
new DfstoreStack(app, 'Dfstore', { config: configFromContext(app.node) });
app.synth();
