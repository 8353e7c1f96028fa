import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from './config.ts';
import { DfstoreStack } from './dfstore-stack.ts';

// `cdk synth|deploy -c backend=s3 …` (README "Deploy"); environment-agnostic, so synth is offline.
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new DfstoreStack(app, 'Dfstore', { config: configFromContext(app.node) });
app.synth();
