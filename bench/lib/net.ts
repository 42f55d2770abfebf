export { freePort } from '../../test/helpers/pg-programs.js';
